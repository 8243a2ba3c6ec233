// Shared by candles.wgsl and series.wgsl (prepended at load time): the per-draw uniform and the transforms
// from bar index and price to canvas pixels and clip space.

struct Draw {
    // Canvas (render target or egui callback rect) size in pixels.
    canvas: vec2<f32>,
    // Plot area of the pane, in canvas pixels.
    rect_min: vec2<f32>,
    rect_size: vec2<f32>,
    // Left edge as bar position: x_origin + x_frac (integer part kept exact for 10-million-bar charts).
    x_frac: f32,
    px_per_bar: f32,
    x_origin: i32,
    // Bars per bucket of the level of detail drawn (1 at full detail).
    bucket_bars: u32,
    // Bars in the dataset.
    bar_count: u32,
    // 1 when the axis is ln(price).
    log_scale: u32,
    // Axis value at the bottom of the plot area and pixels per axis unit.
    y_min: f32,
    px_per_y: f32,
    // Line width in pixels.
    width_px: f32,
    // Baseline value of histograms.
    base: f32,
    color_up: vec4<f32>,
    color_down: vec4<f32>,
    // Body width as a fraction of the bucket width.
    body_fraction: f32,
    // First bucket of the chunk whose buffers are bound: storage arrays hold buckets chunk_first onwards.
    chunk_first: u32,
    _pad1: f32,
    _pad2: f32,
}

@group(0) @binding(0) var<uniform> draw: Draw;

// Values at or beyond this magnitude (or NaN) mark "no value" (indicator warm-up).
const MISSING: f32 = 1.0e37;

fn is_missing(v: f32) -> bool {
    return !(abs(v) < MISSING);
}

// Corner (0 or 1 on each axis) of the two-triangle quad for vertex 0..5.
fn quad_corner(i: u32) -> vec2<f32> {
    let x = select(0.0, 1.0, i == 1u || i == 4u || i == 5u);
    let y = select(0.0, 1.0, i == 2u || i == 3u || i == 5u);
    return vec2<f32>(x, y);
}

// Canvas x of the centre of bars [first, last].
fn bars_x(first: u32, last: u32) -> f32 {
    let rel = f32(i32(first) - draw.x_origin) + 0.5 * f32(last - first) - draw.x_frac;
    return draw.rect_min.x + rel * draw.px_per_bar;
}

// Canvas y of a price (or of a plain value on linear panes).
fn value_y(v: f32) -> f32 {
    var a = v;
    if (draw.log_scale == 1u) {
        a = log(max(v, 1.0e-30));
    }
    return draw.rect_min.y + draw.rect_size.y - (a - draw.y_min) * draw.px_per_y;
}

fn to_clip(px: vec2<f32>) -> vec4<f32> {
    return vec4<f32>(px.x / draw.canvas.x * 2.0 - 1.0, 1.0 - px.y / draw.canvas.y * 2.0, 0.0, 1.0);
}

// The bars a bucket of the current level covers.
fn bucket_bars_range(b: u32) -> vec2<u32> {
    let first = b * draw.bucket_bars;
    let last = min(first + draw.bucket_bars - 1u, draw.bar_count - 1u);
    return vec2<u32>(first, last);
}

// An axis-aligned box from x_left..x_right, y_top..y_bottom snapped to whole pixels (at least one wide).
fn snapped_box(cx: f32, half_w: f32, top: f32, bottom: f32, corner: vec2<f32>) -> vec2<f32> {
    let left = round(cx - half_w);
    let right = left + max(1.0, round(2.0 * half_w));
    var t = top;
    var b = bottom;
    if (b - t < 1.0) {
        let m = 0.5 * (t + b);
        t = m - 0.5;
        b = m + 0.5;
    }
    return vec2<f32>(mix(left, right, corner.x), mix(t, b, corner.y));
}

struct FlatOut {
    @builtin(position) position: vec4<f32>,
    @location(0) color: vec4<f32>,
}
