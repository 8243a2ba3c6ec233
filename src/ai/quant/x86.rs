//! AVX2 and AVX-512 kernels (x86-64), selected at run time by [`super::Kernel`].
//!
//! Exactness: a weight is `f16((q - z) · s)`. The f32 product `(q - z) · s` of a small integer
//! and an f16 is exact, and `cvtps_ph` with round-to-nearest-even then performs the single f16
//! rounding, so the per-(group, column) 16-entry tables equal the scalar [`weight_table`]
//! bit for bit. Tables are looked up with `vpermps` (AVX-512: one 16-entry permute; AVX2: two
//! 8-entry permutes and a blend on bit 3 of the index).
//!
//! [`weight_table`]: super::layout::weight_table

/// Eight f16 scales as f32 (F16C), for both kernels.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn scales_f32(s: &[half::f16]) -> [f32; 8] {
    use core::arch::x86_64::{_mm_loadu_si128, _mm256_cvtph_ps, _mm256_storeu_ps};
    let s = &s[..8];
    let mut out = [0f32; 8];
    // SAFETY: `s` holds 8 f16 = 16 bytes and `out` 8 f32; both accesses are unaligned-safe.
    unsafe {
        let h = _mm_loadu_si128(s.as_ptr().cast());
        _mm256_storeu_ps(out.as_mut_ptr(), _mm256_cvtph_ps(h));
    }
    out
}

/// AVX-512F kernels: 16 lanes, GEMV lanes along K, GEMM micro-kernel 32 rows × 8 columns.
pub(crate) mod avx512 {
    use core::arch::x86_64::*;

    use super::super::layout::{CHUNK_BYTES, CK, NB, SYM_ZERO, View};
    use super::scales_f32;

    /// Round to nearest even, no exceptions.
    const ROUND: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    /// Micro-kernel rows (of `x`).
    const MR: usize = 32;
    /// How far ahead (in 32-K chunks of a block, 128 bytes each) the GEMV prefetches.
    const PREFETCH_CHUNKS: usize = 16;

    /// The 16-entry table `f16((q - z) · s)` for q = 0..16.
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    fn table(s: f32, z: u8) -> __m512 {
        let iota = _mm512_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0);
        let base = _mm512_sub_ps(iota, _mm512_set1_ps(f32::from(z)));
        _mm512_cvtph_ps(_mm512_cvtps_ph::<ROUND>(_mm512_mul_ps(base, _mm512_set1_ps(s))))
    }

    /// Tables of the 8 columns of a block for group `g`.
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    fn block_tables(v: &View, blk: usize, g: usize, t: &mut [__m512]) {
        let s = scales_f32(&v.block_scales(blk)[g * NB..]);
        let z = v.block_zeros(blk);
        for (c, t) in t.iter_mut().take(NB).enumerate() {
            *t = table(s[c], z.map_or(SYM_ZERO, |z| z[g * NB + c]));
        }
    }

    /// GEMV over one 8-column block for `R` rows of `x` (see `kernel::gemv`).
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    pub(crate) fn gemv<const R: usize>(v: &View, blk: usize, x: &[f32], out: &mut [f32]) {
        let q = v.block_q(blk);
        assert!(x.len() >= R * v.k && out.len() >= R * NB);
        assert!(v.groups * v.cpg == v.chunks && v.chunks * CK == v.k);
        assert!(q.len() == v.chunks * NB * CHUNK_BYTES);
        let (qp, xp) = (q.as_ptr(), x.as_ptr());
        // Separate accumulators for the low and high nibbles keep the FMA chains independent.
        let mut acc = [[[_mm512_setzero_ps(); 2]; NB]; R];
        let mut t = [_mm512_setzero_ps(); NB];
        let scales = v.block_scales(blk);
        let zeros = v.block_zeros(blk);
        assert!(scales.len() == v.groups * NB && zeros.is_none_or(|z| z.len() == scales.len()));
        let iota = _mm512_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0);
        let sym_base = _mm512_sub_ps(iota, _mm512_set1_ps(f32::from(SYM_ZERO)));
        for g in 0..v.groups {
            // Tables of the 8 columns (inline: this runs once per 128 weights of a column).
            let mut s = [0f32; NB];
            // SAFETY: `scales` holds `groups · 8` f16 (asserted above), so 8 from `g · 8`
            // are in bounds; `s` holds 8 f32. Both accesses are unaligned.
            unsafe {
                let h = _mm_loadu_si128(scales.as_ptr().add(g * NB).cast());
                _mm256_storeu_ps(s.as_mut_ptr(), _mm256_cvtph_ps(h));
            }
            for c in 0..NB {
                let base = match zeros {
                    None => sym_base,
                    Some(z) => _mm512_sub_ps(iota, _mm512_set1_ps(f32::from(z[g * NB + c]))),
                };
                let prod = _mm512_mul_ps(base, _mm512_set1_ps(s[c]));
                t[c] = _mm512_cvtph_ps(_mm512_cvtps_ph::<ROUND>(prod));
            }
            for ch in g * v.cpg..(g + 1) * v.cpg {
                // Prefetch the packed bytes PREFETCH_CHUNKS chunks ahead (possibly the next
                // block, which follows in memory); prefetches never fault.
                let ahead = qp.wrapping_add((ch + PREFETCH_CHUNKS) * NB * CHUNK_BYTES);
                _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
                _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(64).cast());
                // SAFETY: ch < chunks, so every row r < R of `x` has `ch·32 + 32 ≤ k` floats
                // and `q` has `(ch·8 + c)·16 + 16 ≤ q.len()` bytes (all asserted above);
                // the loads are unaligned.
                unsafe {
                    let mut xl = [_mm512_setzero_ps(); R];
                    let mut xh = [_mm512_setzero_ps(); R];
                    for r in 0..R {
                        xl[r] = _mm512_loadu_ps(xp.add(r * v.k + ch * CK));
                        xh[r] = _mm512_loadu_ps(xp.add(r * v.k + ch * CK + 16));
                    }
                    for c in 0..NB {
                        let bytes = _mm_loadu_si128(qp.add((ch * NB + c) * CHUNK_BYTES).cast());
                        let idx = _mm512_cvtepu8_epi32(bytes);
                        // vpermps uses the index's low 4 bits: the low nibble as is.
                        let wl = _mm512_permutexvar_ps(idx, t[c]);
                        let wh = _mm512_permutexvar_ps(_mm512_srli_epi32::<4>(idx), t[c]);
                        for r in 0..R {
                            acc[r][c][0] = _mm512_fmadd_ps(wl, xl[r], acc[r][c][0]);
                            acc[r][c][1] = _mm512_fmadd_ps(wh, xh[r], acc[r][c][1]);
                        }
                    }
                }
            }
        }
        for r in 0..R {
            for c in 0..NB {
                let sum = _mm512_add_ps(acc[r][c][0], acc[r][c][1]);
                out[r * NB + c] = _mm512_reduce_add_ps(sum);
            }
        }
    }

    /// Stores 16 floats at `out[at..at + 16]`.
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    fn store16(out: &mut [f32], at: usize, v: __m512) {
        let dst = &mut out[at..at + 16];
        // SAFETY: `dst` holds exactly 16 floats; the store is unaligned.
        unsafe { _mm512_storeu_ps(dst.as_mut_ptr(), v) }
    }

    /// Dequantises stored K `kb .. kb + kc` of block `blk` into `out[8][kc]`.
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    pub(crate) fn decode_block(v: &View, blk: usize, kb: usize, kc: usize, out: &mut [f32]) {
        assert!(kb.is_multiple_of(CK) && kc.is_multiple_of(CK));
        assert!(kb + kc <= v.k && out.len() >= NB * kc);
        let q = v.block_q(blk);
        let mut t = [_mm512_setzero_ps(); NB];
        let mut group = usize::MAX;
        for chl in 0..kc / CK {
            let ch = kb / CK + chl;
            if ch / v.cpg != group {
                group = ch / v.cpg;
                block_tables(v, blk, group, &mut t);
            }
            for (c, t) in t.iter().enumerate() {
                let off = (ch * NB + c) * CHUNK_BYTES;
                let bytes = &q[off..off + CHUNK_BYTES];
                // SAFETY: `bytes` holds exactly 16 bytes; the load is unaligned.
                let idx = _mm512_cvtepu8_epi32(unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) });
                store16(out, c * kc + chl * CK, _mm512_permutexvar_ps(idx, *t));
                let hi = _mm512_permutexvar_ps(_mm512_srli_epi32::<4>(idx), *t);
                store16(out, c * kc + chl * CK + 16, hi);
            }
        }
    }

    /// The 32-row × 8-column micro-kernel (see `kernel::micro`).
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    pub(crate) fn micro(a: &[f32], w: &[f32], kc: usize, c: &mut [f32], ldc: usize, accumulate: bool) {
        assert!(a.len() >= kc * MR && w.len() >= NB * kc);
        assert!(ldc >= MR && c.len() >= (NB - 1) * ldc + MR);
        let ap = a.as_ptr();
        let cols: [&[f32]; NB] = std::array::from_fn(|col| &w[col * kc..(col + 1) * kc]);
        let wp = cols.map(<[f32]>::as_ptr);
        let mut acc = [[_mm512_setzero_ps(); 2]; NB];
        for kk in 0..kc {
            // SAFETY: kk < kc, `a` holds kc rows of MR floats and each `cols` slice kc floats
            // (asserted above); the loads are unaligned.
            unsafe {
                let a0 = _mm512_loadu_ps(ap.add(kk * MR));
                let a1 = _mm512_loadu_ps(ap.add(kk * MR + 16));
                for (acc, wp) in acc.iter_mut().zip(wp) {
                    let wv = _mm512_set1_ps(*wp.add(kk));
                    acc[0] = _mm512_fmadd_ps(a0, wv, acc[0]);
                    acc[1] = _mm512_fmadd_ps(a1, wv, acc[1]);
                }
            }
        }
        for (col, acc) in acc.iter().enumerate() {
            for (h, &v) in acc.iter().enumerate() {
                let at = col * ldc + h * 16;
                let dst = &mut c[at..at + 16];
                // SAFETY: `dst` holds exactly 16 floats; loads and stores are unaligned.
                unsafe {
                    let v = if accumulate { _mm512_add_ps(_mm512_loadu_ps(dst.as_ptr()), v) } else { v };
                    _mm512_storeu_ps(dst.as_mut_ptr(), v);
                }
            }
        }
    }
}

/// AVX2 + FMA + F16C kernels: 8 lanes, GEMV lanes along K, GEMM micro-kernel 16 rows × 8 columns.
pub(crate) mod avx2 {
    use core::arch::x86_64::*;

    use super::super::layout::{CHUNK_BYTES, CK, NB, SYM_ZERO, View};
    use super::scales_f32;

    /// Round to nearest even (F16C immediate).
    const ROUND: i32 = _MM_FROUND_TO_NEAREST_INT;
    /// Micro-kernel rows (of `x`).
    const MR: usize = 16;
    /// How far ahead (in 32-K chunks of a block, 128 bytes each) the GEMV prefetches.
    const PREFETCH_CHUNKS: usize = 16;

    /// A 16-entry table as two 8-entry halves.
    #[derive(Clone, Copy)]
    struct Table {
        /// Entries 0..8.
        lo: __m256,
        /// Entries 8..16.
        hi: __m256,
    }

    /// The table `f16((q - z) · s)` for q = 0..16.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn table(s: f32, z: u8) -> Table {
        let zv = _mm256_set1_ps(f32::from(z));
        let sv = _mm256_set1_ps(s);
        let lo = _mm256_sub_ps(_mm256_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0), zv);
        let hi = _mm256_sub_ps(_mm256_setr_ps(8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0), zv);
        Table {
            lo: _mm256_cvtph_ps(_mm256_cvtps_ph::<ROUND>(_mm256_mul_ps(lo, sv))),
            hi: _mm256_cvtph_ps(_mm256_cvtps_ph::<ROUND>(_mm256_mul_ps(hi, sv))),
        }
    }

    /// Tables of the 8 columns of a block for group `g`.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn block_tables(v: &View, blk: usize, g: usize, t: &mut [Table; NB]) {
        let s = scales_f32(&v.block_scales(blk)[g * NB..]);
        let z = v.block_zeros(blk);
        for (c, t) in t.iter_mut().enumerate() {
            *t = table(s[c], z.map_or(SYM_ZERO, |z| z[g * NB + c]));
        }
    }

    /// Looks up the low 4 bits of each lane of `idx` (higher bits ignored).
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn lookup(t: &Table, idx: __m256i) -> __m256 {
        let lo = _mm256_permutevar8x32_ps(t.lo, idx);
        let hi = _mm256_permutevar8x32_ps(t.hi, idx);
        // Bit 3 of the index, moved to the sign bit, selects the upper half.
        _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32::<28>(idx)))
    }

    /// Decodes one column chunk into k = 0..8, 8..16, 16..24, 24..32.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn decode_chunk(bytes: &[u8], t: &Table) -> [__m256; 4] {
        let bytes = &bytes[..CHUNK_BYTES];
        // SAFETY: `bytes` holds 16 bytes; each 8-byte load stays inside it and is unaligned.
        let (v0, v1) = unsafe {
            (
                _mm256_cvtepu8_epi32(_mm_loadl_epi64(bytes.as_ptr().cast())),
                _mm256_cvtepu8_epi32(_mm_loadl_epi64(bytes.as_ptr().add(8).cast())),
            )
        };
        [lookup(t, v0), lookup(t, v1), lookup(t, _mm256_srli_epi32::<4>(v0)), lookup(t, _mm256_srli_epi32::<4>(v1))]
    }

    /// GEMV over one 8-column block for `R` rows of `x` (see `kernel::gemv`).
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(crate) fn gemv<const R: usize>(v: &View, blk: usize, x: &[f32], out: &mut [f32]) {
        let q = v.block_q(blk);
        assert!(x.len() >= R * v.k && out.len() >= R * NB);
        assert!(v.groups * v.cpg == v.chunks && v.chunks * CK == v.k);
        assert!(q.len() == v.chunks * NB * CHUNK_BYTES);
        let (qp, xp) = (q.as_ptr(), x.as_ptr());
        let zero = Table { lo: _mm256_setzero_ps(), hi: _mm256_setzero_ps() };
        let mut acc = [[_mm256_setzero_ps(); NB]; R];
        let mut t = [zero; NB];
        let scales = v.block_scales(blk);
        let zeros = v.block_zeros(blk);
        assert!(scales.len() == v.groups * NB && zeros.is_none_or(|z| z.len() == scales.len()));
        let iota_lo = _mm256_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
        let iota_hi = _mm256_setr_ps(8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0);
        let sym = _mm256_set1_ps(f32::from(SYM_ZERO));
        let (sym_lo, sym_hi) = (_mm256_sub_ps(iota_lo, sym), _mm256_sub_ps(iota_hi, sym));
        for g in 0..v.groups {
            // Tables of the 8 columns (inline: this runs once per 128 weights of a column).
            let mut s = [0f32; NB];
            // SAFETY: `scales` holds `groups · 8` f16 (asserted above), so 8 from `g · 8`
            // are in bounds; `s` holds 8 f32. Both accesses are unaligned.
            unsafe {
                let h = _mm_loadu_si128(scales.as_ptr().add(g * NB).cast());
                _mm256_storeu_ps(s.as_mut_ptr(), _mm256_cvtph_ps(h));
            }
            for (c, t) in t.iter_mut().enumerate() {
                let (lo, hi) = match zeros {
                    None => (sym_lo, sym_hi),
                    Some(z) => {
                        let zv = _mm256_set1_ps(f32::from(z[g * NB + c]));
                        (_mm256_sub_ps(iota_lo, zv), _mm256_sub_ps(iota_hi, zv))
                    }
                };
                let sv = _mm256_set1_ps(s[c]);
                t.lo = _mm256_cvtph_ps(_mm256_cvtps_ph::<ROUND>(_mm256_mul_ps(lo, sv)));
                t.hi = _mm256_cvtph_ps(_mm256_cvtps_ph::<ROUND>(_mm256_mul_ps(hi, sv)));
            }
            for ch in g * v.cpg..(g + 1) * v.cpg {
                // Prefetch PREFETCH_CHUNKS chunks ahead (prefetches never fault).
                let ahead = qp.wrapping_add((ch + PREFETCH_CHUNKS) * NB * CHUNK_BYTES);
                _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
                _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(64).cast());
                // One column: decode 32 weights, multiply-add against the R rows. A macro
                // unrolls the 8 columns so that the accumulators stay in registers.
                macro_rules! column {
                    ($c:literal) => {
                        // SAFETY: ch < chunks, so `q` has `(ch·8 + c)·16 + 16 ≤ q.len()`
                        // bytes and every row r < R of `x` has `ch·32 + 32 ≤ k` floats
                        // (asserted above); the loads are unaligned.
                        unsafe {
                            let p = qp.add((ch * NB + $c) * CHUNK_BYTES);
                            let v0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.cast()));
                            let v1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.add(8).cast()));
                            let w = [
                                lookup(&t[$c], v0),
                                lookup(&t[$c], v1),
                                lookup(&t[$c], _mm256_srli_epi32::<4>(v0)),
                                lookup(&t[$c], _mm256_srli_epi32::<4>(v1)),
                            ];
                            for r in 0..R {
                                let xr = xp.add(r * v.k + ch * CK);
                                let mut a = acc[r][$c];
                                for (i, &w) in w.iter().enumerate() {
                                    a = _mm256_fmadd_ps(w, _mm256_loadu_ps(xr.add(8 * i)), a);
                                }
                                acc[r][$c] = a;
                            }
                        }
                    };
                }
                column!(0);
                column!(1);
                column!(2);
                column!(3);
                column!(4);
                column!(5);
                column!(6);
                column!(7);
            }
        }
        for r in 0..R {
            for c in 0..NB {
                let a = acc[r][c];
                let s4 = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
                let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
                let s1 = _mm_add_ss(s2, _mm_shuffle_ps::<0x55>(s2, s2));
                out[r * NB + c] = _mm_cvtss_f32(s1);
            }
        }
    }

    /// Dequantises stored K `kb .. kb + kc` of block `blk` into `out[8][kc]`.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(crate) fn decode_block(v: &View, blk: usize, kb: usize, kc: usize, out: &mut [f32]) {
        assert!(kb.is_multiple_of(CK) && kc.is_multiple_of(CK));
        assert!(kb + kc <= v.k && out.len() >= NB * kc);
        let q = v.block_q(blk);
        let zero = Table { lo: _mm256_setzero_ps(), hi: _mm256_setzero_ps() };
        let mut t = [zero; NB];
        let mut group = usize::MAX;
        for chl in 0..kc / CK {
            let ch = kb / CK + chl;
            if ch / v.cpg != group {
                group = ch / v.cpg;
                block_tables(v, blk, group, &mut t);
            }
            for (c, t) in t.iter().enumerate() {
                let w = decode_chunk(&q[(ch * NB + c) * CHUNK_BYTES..], t);
                let at = c * kc + chl * CK;
                let dst = &mut out[at..at + CK];
                // SAFETY: `dst` holds exactly 32 floats, written as four unaligned stores of 8.
                unsafe {
                    for (i, &w) in w.iter().enumerate() {
                        _mm256_storeu_ps(dst.as_mut_ptr().add(8 * i), w);
                    }
                }
            }
        }
    }

    /// The 16-row × 8-column micro-kernel (two passes of 4 columns; see `kernel::micro`).
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(crate) fn micro(a: &[f32], w: &[f32], kc: usize, c: &mut [f32], ldc: usize, accumulate: bool) {
        assert!(a.len() >= kc * MR && w.len() >= NB * kc);
        assert!(ldc >= MR && c.len() >= (NB - 1) * ldc + MR);
        let (ap, wp) = (a.as_ptr(), w.as_ptr());
        for half in 0..2 {
            let mut acc = [[_mm256_setzero_ps(); 2]; 4];
            for kk in 0..kc {
                // SAFETY: kk < kc, `a` holds kc rows of MR floats and `w` NB columns of kc
                // floats (asserted above); the loads are unaligned.
                unsafe {
                    let a0 = _mm256_loadu_ps(ap.add(kk * MR));
                    let a1 = _mm256_loadu_ps(ap.add(kk * MR + 8));
                    for (col, acc) in acc.iter_mut().enumerate() {
                        let wv = _mm256_broadcast_ss(&*wp.add((half * 4 + col) * kc + kk));
                        acc[0] = _mm256_fmadd_ps(a0, wv, acc[0]);
                        acc[1] = _mm256_fmadd_ps(a1, wv, acc[1]);
                    }
                }
            }
            for (col, acc) in acc.iter().enumerate() {
                for (h, &v) in acc.iter().enumerate() {
                    let at = (half * 4 + col) * ldc + h * 8;
                    let dst = &mut c[at..at + 8];
                    // SAFETY: `dst` holds exactly 8 floats; loads and stores are unaligned.
                    unsafe {
                        let v = if accumulate { _mm256_add_ps(_mm256_loadu_ps(dst.as_ptr()), v) } else { v };
                        _mm256_storeu_ps(dst.as_mut_ptr(), v);
                    }
                }
            }
        }
    }
}
