// Screen-space overlays built on the CPU each frame (a few hundred instances): grid lines, guides, pattern
// markers, trades, drawings and the crosshair. Text is drawn by the caller (egui, or the PNG writer). Prepended
// with segment.wgsl.

struct Screen {
    canvas: vec2<f32>,
    _pad: vec2<f32>,
}

@group(0) @binding(0) var<uniform> screen: Screen;

struct Instance {
    @location(0) p0: vec2<f32>,
    @location(1) p1: vec2<f32>,
    @location(2) color: vec4<f32>,
    @location(3) width: f32,
    @location(4) kind: u32,
}

// Instance kinds.
const RECT: u32 = 0u;
const SEGMENT: u32 = 1u;
const DASHED: u32 = 2u;
const TRIANGLE_UP: u32 = 3u;
const TRIANGLE_DOWN: u32 = 4u;
const DIAMOND: u32 = 5u;

struct Out {
    @builtin(position) position: vec4<f32>,
    @location(0) color: vec4<f32>,
    // x: distance across a segment (pixels), y: distance along it, z: half width, w: 1 for dashed.
    @location(1) line: vec4<f32>,
}

fn to_clip(px: vec2<f32>) -> vec4<f32> {
    return vec4<f32>(px.x / screen.canvas.x * 2.0 - 1.0, 1.0 - px.y / screen.canvas.y * 2.0, 0.0, 1.0);
}

fn corner(i: u32) -> vec2<f32> {
    let x = select(0.0, 1.0, i == 1u || i == 4u || i == 5u);
    let y = select(0.0, 1.0, i == 2u || i == 3u || i == 5u);
    return vec2<f32>(x, y);
}

@vertex
fn vs_overlay(@builtin(vertex_index) vi: u32, inst: Instance) -> Out {
    var out: Out;
    out.color = inst.color;
    out.line = vec4<f32>(0.0, 0.0, 1.0e6, 0.0);
    let c = corner(vi);
    if (inst.kind == RECT) {
        out.position = to_clip(mix(inst.p0, inst.p1, c));
    } else if (inst.kind == SEGMENT || inst.kind == DASHED) {
        let v = segment_vertex(inst.p0, inst.p1, c, inst.width, 0.0);
        out.position = to_clip(v.position);
        out.line = vec4<f32>(v.across, v.along, 0.5 * inst.width, select(0.0, 1.0, inst.kind == DASHED));
    } else {
        // Markers: p0 is the centre, width the size in pixels.
        let r = 0.5 * inst.width;
        var p = inst.p0;
        let k = vi % 6u;
        if (inst.kind == TRIANGLE_UP || inst.kind == TRIANGLE_DOWN) {
            let s = select(1.0, -1.0, inst.kind == TRIANGLE_UP);
            if (k == 0u) {
                p = inst.p0 + vec2<f32>(0.0, -s * r);
            } else if (k == 1u) {
                p = inst.p0 + vec2<f32>(-r, s * r);
            } else if (k == 2u) {
                p = inst.p0 + vec2<f32>(r, s * r);
            }
        } else {
            var d = array<vec2<f32>, 6>(
                vec2<f32>(0.0, -1.0), vec2<f32>(1.0, 0.0), vec2<f32>(0.0, 1.0),
                vec2<f32>(0.0, -1.0), vec2<f32>(0.0, 1.0), vec2<f32>(-1.0, 0.0),
            );
            p = inst.p0 + d[k] * r;
        }
        out.position = to_clip(p);
    }
    return out;
}

@fragment
fn fs_overlay(in: Out) -> @location(0) vec4<f32> {
    let coverage = clamp(in.line.z + 0.5 - abs(in.line.x), 0.0, 1.0);
    if (in.line.w > 0.5 && fract(in.line.y / 10.0) > 0.6) {
        discard;
    }
    return vec4<f32>(in.color.rgb, in.color.a * coverage);
}
