//! Int4 matmul throughput on the MiniCPM4.1-8B projection shapes.
//!
//! `cargo test --release --test int4_bench -- --ignored --nocapture`
//! (`INT4_BENCH_PREFILL_M` trims the prefill rows, `INT4_BENCH_KERNELS=avx512,avx2` picks
//! kernels; by default every available kernel is measured, scalar without prefill).

use std::hint::black_box;
use std::time::{Duration, Instant};

use aio::ai::quant::{Int4Linear, Kernel, measure_read_bandwidth_gbs};

/// (name, N, K) with hidden 4096, intermediate 16384, 32 heads, 2 KV heads of 128.
const SHAPES: [(&str, usize, usize); 4] = [
    ("qkv_proj", 4096 + 2 * 256, 4096),
    ("o_proj", 4096, 4096),
    ("gate_up_proj", 2 * 16384, 4096),
    ("down_proj", 4096, 16384),
];

/// Runs `f` until at least `min` has passed (and at least `calls` times); seconds per call.
fn time_per_call(calls: usize, min: Duration, mut f: impl FnMut(usize)) -> f64 {
    let start = Instant::now();
    let mut i = 0;
    while i < calls || start.elapsed() < min {
        f(i);
        i += 1;
    }
    start.elapsed().as_secs_f64() / i as f64
}

/// Process CPU seconds (user + system, all threads) on Linux, for the CPU-share column.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn random_x(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.f32() * 2.0 - 1.0).collect()
}

#[test]
#[ignore = "benchmark: cargo test --release --test int4_bench -- --ignored --nocapture"]
fn int4_matmul_throughput_on_minicpm4_8b_shapes() {
    let prefill_m: usize = std::env::var("INT4_BENCH_PREFILL_M").ok().and_then(|v| v.parse().ok()).unwrap_or(2048);
    let bw = measure_read_bandwidth_gbs();
    println!(
        "threads {}, read bandwidth {bw:.1} GB/s, detected kernel {:?}",
        rayon::current_num_threads(),
        Kernel::detect()
    );
    println!("(% bw = m=1 GB/s / read bandwidth; cpu% = CPU time / (wall · threads) during m=1)");
    let kernels: Vec<Kernel> = match std::env::var("INT4_BENCH_KERNELS") {
        Ok(names) => {
            Kernel::available().into_iter().filter(|k| names.split(',').any(|n| n.trim() == k.name())).collect()
        }
        Err(_) => Kernel::available(),
    };
    for kernel in kernels.into_iter().rev() {
        println!("\n[{kernel:?}]");
        println!(
            "{:<13} {:>6} {:>6} {:>7} {:>8} {:>6} {:>6} {:>6} {:>10} {:>12}",
            "shape",
            "N",
            "K",
            "MiB",
            "m=1 ms",
            "GB/s",
            "% bw",
            "cpu%",
            "m=64 GF/s",
            format!("m={prefill_m} GF/s")
        );
        for (name, n, k) in SHAPES {
            // Enough copies that the matrix-vector product streams from DRAM, not the L3.
            let one = Int4Linear::random(n, k, 128, 1);
            let bytes = one.streamed_bytes();
            let copies = (512usize << 20).div_ceil(bytes).max(2);
            let layers: Vec<Int4Linear> =
                std::iter::once(one).chain((1..copies).map(|i| Int4Linear::random(n, k, 128, 1 + i as u64))).collect();
            let x1 = random_x(k, 2);
            let mut y1 = vec![0f32; n];
            for l in &layers {
                l.matmul_with(kernel, &x1, 1, &mut y1).unwrap();
            }
            let (cpu0, wall0) = (cpu_seconds(), Instant::now());
            let t1 = time_per_call(copies * 3, Duration::from_millis(1500), |i| {
                layers[i % copies].matmul_with(kernel, &x1, 1, &mut y1).unwrap();
                black_box(&y1);
            });
            // Share of the machine's cores this process got while timing m = 1 (other load
            // on the machine shows here).
            let threads = rayon::current_num_threads() as f64;
            let cpu_share = match (cpu0, cpu_seconds()) {
                (Some(a), Some(b)) => {
                    let wall = wall0.elapsed().as_secs_f64();
                    format!("{:.0}", 100.0 * (b - a) / (wall * threads))
                }
                _ => "-".to_string(),
            };
            let gbs = bytes as f64 / t1 / 1e9;
            let flops = |m: usize| 2.0 * (m * n * k) as f64;
            let x64 = random_x(64 * k, 3);
            let mut y64 = vec![0f32; 64 * n];
            let t64 = time_per_call(3, Duration::from_millis(1000), |i| {
                layers[i % copies].matmul_with(kernel, &x64, 64, &mut y64).unwrap();
            });
            let prefill = if kernel == Kernel::Scalar {
                "-".to_string()
            } else {
                let xp = random_x(prefill_m * k, 4);
                let mut yp = vec![0f32; prefill_m * n];
                let tp = time_per_call(1, Duration::ZERO, |_| {
                    layers[0].matmul_with(kernel, &xp, prefill_m, &mut yp).unwrap();
                });
                format!("{:.1}", flops(prefill_m) / tp / 1e9)
            };
            println!(
                "{name:<13} {n:>6} {k:>6} {:>7.1} {:>8.3} {gbs:>6.1} {:>5.0}% {cpu_share:>5}% {:>10.1} {prefill:>12}",
                bytes as f64 / (1 << 20) as f64,
                t1 * 1e3,
                100.0 * gbs / bw,
                flops(64) / t64 / 1e9,
            );
        }
    }
}
