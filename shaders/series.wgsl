// Indicator series from one f32 value per bucket of the level drawn (a bucket shows the value of its last bar):
// anti-aliased polylines (one quad per segment), one-pixel strips and histograms. `values` holds the chunk's
// buckets from draw.chunk_first on. Prepended with common.wgsl and
// segment.wgsl.

@group(1) @binding(0) var<storage, read> values: array<f32>;

// Bar shown for sample s at the current level: the last bar of bucket s.
fn sample_bar(s: u32) -> u32 {
    return min(s * draw.bucket_bars + draw.bucket_bars - 1u, draw.bar_count - 1u);
}

struct LineOut {
    @builtin(position) position: vec4<f32>,
    @location(0) color: vec4<f32>,
    // Signed distance from the centre line, in pixels.
    @location(1) across: f32,
}

// 6 vertices per segment between samples s and s + 1; a segment touching a missing value collapses.
@vertex
fn vs_line(@builtin(vertex_index) vi: u32, @builtin(instance_index) s: u32) -> LineOut {
    let a_bar = sample_bar(s);
    let b_bar = sample_bar(s + 1u);
    let va = values[s - draw.chunk_first];
    let vb = values[s + 1u - draw.chunk_first];
    var out: LineOut;
    out.color = draw.color_up;
    out.across = 0.0;
    if (is_missing(va) || is_missing(vb) || a_bar == b_bar) {
        out.position = vec4<f32>(2.0, 2.0, 0.0, 1.0);
        return out;
    }
    let p0 = vec2<f32>(bars_x(a_bar, a_bar), value_y(va));
    let p1 = vec2<f32>(bars_x(b_bar, b_bar), value_y(vb));
    // The ends overlap by half a width to close the joins.
    let v = segment_vertex(p0, p1, quad_corner(vi), draw.width_px, 0.5 * draw.width_px);
    out.position = to_clip(v.position);
    out.across = v.across;
    return out;
}

@fragment
fn fs_line(in: LineOut) -> @location(0) vec4<f32> {
    let coverage = clamp(0.5 * draw.width_px + 0.5 - abs(in.across), 0.0, 1.0);
    return vec4<f32>(in.color.rgb, in.color.a * coverage);
}

// 6 vertices per sample: a bar from the baseline to the value, coloured by its side of the baseline.
@vertex
fn vs_hist(@builtin(vertex_index) vi: u32, @builtin(instance_index) s: u32) -> FlatOut {
    let bar = sample_bar(s);
    let v = values[s - draw.chunk_first];
    var out: FlatOut;
    out.color = select(draw.color_down, draw.color_up, v >= draw.base);
    if (is_missing(v)) {
        out.position = vec4<f32>(2.0, 2.0, 0.0, 1.0);
        return out;
    }
    let first = s * draw.bucket_bars;
    let cx = bars_x(first, bar);
    let bucket_px = f32(bar - first + 1u) * draw.px_per_bar;
    let half_w = max(0.5, 0.5 * bucket_px * draw.body_fraction);
    let y0 = value_y(draw.base);
    let y1 = value_y(v);
    out.position = to_clip(snapped_box(cx, half_w, min(y0, y1), max(y0, y1), quad_corner(vi)));
    return out;
}

@fragment
fn fs_flat(in: FlatOut) -> @location(0) vec4<f32> {
    return in.color;
}

// One vertex per sample, drawn as a line strip (one pixel wide, no feathering) when buckets merge bars and a
// quad per segment would cost more than it shows. The draw starts after the warm-up (no missing values).
@vertex
fn vs_strip(@builtin(vertex_index) s: u32) -> FlatOut {
    let bar = sample_bar(s);
    var out: FlatOut;
    out.color = draw.color_up;
    out.position = to_clip(vec2<f32>(bars_x(bar, bar), value_y(values[s - draw.chunk_first])));
    return out;
}
