// Shared by series.wgsl and overlay.wgsl (prepended at load time): the quad around a line segment.

struct SegmentVertex {
    // Canvas pixels.
    position: vec2<f32>,
    // Signed distance from the centre line (pixels), for anti-aliasing.
    across: f32,
    // Distance along the segment from p0 (pixels), for dashes.
    along: f32,
}

// Corner `c` (0 or 1 on each axis) of the quad around p0 → p1 that is `width` pixels wide plus a pixel of
// feathering on each side, extended by `extend` pixels beyond both ends.
fn segment_vertex(p0: vec2<f32>, p1: vec2<f32>, c: vec2<f32>, width: f32, extend: f32) -> SegmentVertex {
    var dir = p1 - p0;
    let len = length(dir);
    if (len < 1.0e-4) {
        dir = vec2<f32>(1.0, 0.0);
    } else {
        dir = dir / len;
    }
    let normal = vec2<f32>(-dir.y, dir.x);
    let half_w = 0.5 * width + 1.0;
    var v: SegmentVertex;
    v.along = mix(-extend, len + extend, c.x);
    v.across = mix(-half_w, half_w, c.y);
    v.position = p0 + dir * v.along + normal * v.across;
    return v;
}
