// Candles (wick + body per bucket, instanced) and the volume histogram, read from one level of detail.
// Prepended with common.wgsl.

@group(1) @binding(0) var<storage, read> bar_open: array<f32>;
@group(1) @binding(1) var<storage, read> bar_high: array<f32>;
@group(1) @binding(2) var<storage, read> bar_low: array<f32>;
@group(1) @binding(3) var<storage, read> bar_close: array<f32>;
@group(1) @binding(4) var<storage, read> bar_volume: array<f32>;

// 12 vertices per bucket: the wick quad, then the body quad. `b` is the bucket in the level, `i` its place in the
// chunk's buffers.
@vertex
fn vs_candle(@builtin(vertex_index) vi: u32, @builtin(instance_index) b: u32) -> FlatOut {
    let i = b - draw.chunk_first;
    let o = bar_open[i];
    let c = bar_close[i];
    let span = bucket_bars_range(b);
    let cx = bars_x(span.x, span.y);
    let bucket_px = f32(span.y - span.x + 1u) * draw.px_per_bar;
    let corner = quad_corner(vi % 6u);
    var px: vec2<f32>;
    if (vi < 6u) {
        // A one-pixel wick at full detail; a full-width min/max envelope when buckets merge bars.
        var half_w = 0.5;
        if (draw.bucket_bars > 1u) {
            half_w = max(0.5, 0.5 * bucket_px);
        }
        px = snapped_box(cx, half_w, value_y(bar_high[i]), value_y(bar_low[i]), corner);
    } else {
        let half_w = max(0.5, 0.5 * bucket_px * draw.body_fraction);
        px = snapped_box(cx, half_w, value_y(max(o, c)), value_y(min(o, c)), corner);
    }
    var out: FlatOut;
    out.position = to_clip(px);
    out.color = select(draw.color_down, draw.color_up, c >= o);
    return out;
}

// 6 vertices per bucket: a bar from the pane's baseline up to the bucket's volume (linear axis from 0).
@vertex
fn vs_volume(@builtin(vertex_index) vi: u32, @builtin(instance_index) b: u32) -> FlatOut {
    let i = b - draw.chunk_first;
    let span = bucket_bars_range(b);
    let cx = bars_x(span.x, span.y);
    let bucket_px = f32(span.y - span.x + 1u) * draw.px_per_bar;
    let half_w = max(0.5, 0.5 * bucket_px * draw.body_fraction);
    let bottom = draw.rect_min.y + draw.rect_size.y;
    let top = bottom - bar_volume[i] * draw.px_per_y;
    let corner = quad_corner(vi);
    let left = round(cx - half_w);
    let right = left + max(1.0, round(2.0 * half_w));
    var out: FlatOut;
    out.position = to_clip(vec2<f32>(mix(left, right, corner.x), mix(top, bottom, corner.y)));
    out.color = select(draw.color_down, draw.color_up, bar_close[i] >= bar_open[i]);
    return out;
}

@fragment
fn fs_flat(in: FlatOut) -> @location(0) vec4<f32> {
    return in.color;
}
