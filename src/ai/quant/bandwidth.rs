//! Streaming read bandwidth of this machine, the roofline for memory-bound int4 decode.

use std::hint::black_box;
use std::time::Instant;

use rayon::prelude::*;

/// Multi-threaded streaming read bandwidth in GB/s (512 MiB buffer, all cores, best of 5).
pub fn measure_read_bandwidth_gbs() -> f64 {
    measure_read_bandwidth_gbs_with(512 << 20, 5)
}

/// Read bandwidth in GB/s over a `bytes` buffer on all cores, best of `reps` passes.
pub fn measure_read_bandwidth_gbs_with(bytes: usize, reps: usize) -> f64 {
    let words = (bytes / 8).max(1 << 12);
    let mut buf = vec![0u64; words];
    // Touch every page in parallel so the timed passes read resident memory.
    buf.par_chunks_mut(1 << 16).enumerate().for_each(|(i, chunk)| {
        for (j, w) in chunk.iter_mut().enumerate() {
            *w = (i ^ j) as u64;
        }
    });
    let tasks = rayon::current_num_threads() * 4;
    let per_task = words.div_ceil(tasks);
    let mut best = 0f64;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        let sum = buf.par_chunks(per_task).map(sum_words).reduce(|| 0, u64::wrapping_add);
        black_box(sum);
        let secs = start.elapsed().as_secs_f64();
        best = best.max((words * 8) as f64 / secs / 1e9);
    }
    best
}

/// Wrapping sum with independent lanes (vectorises to full-width loads).
fn sum_words(words: &[u64]) -> u64 {
    let mut acc = [0u64; 8];
    let mut chunks = words.chunks_exact(8);
    for c in &mut chunks {
        for (a, &w) in acc.iter_mut().zip(c) {
            *a = a.wrapping_add(w);
        }
    }
    let tail = chunks.remainder().iter().fold(0u64, |s, &w| s.wrapping_add(w));
    acc.iter().fold(tail, |s, &a| s.wrapping_add(a))
}
