//! The wgpu side of the chart: long-lived pipelines ([`ChartPipelines`]), per-dataset buffers uploaded once
//! ([`GpuDataset`]), and per-frame draw data ([`FrameGpu`]: one uniform slot per draw and the overlay
//! instances). Knows nothing of egui: the same calls draw into an offscreen texture or an egui render pass.

use std::ops::Range;

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

use super::{
    lod::sample_bar,
    scene::{ChartData, Command, FramePlan, OverlayInstance},
};

/// The WGSL sources, embedded at build time.
pub mod shaders {
    /// Uniform and transforms shared by the candle and series shaders.
    pub const COMMON: &str = include_str!("../../shaders/common.wgsl");
    /// The quad around a line segment, shared by the series and overlay shaders.
    pub const SEGMENT: &str = include_str!("../../shaders/segment.wgsl");
    /// Candles and volume.
    pub const CANDLES: &str = include_str!("../../shaders/candles.wgsl");
    /// Indicator lines and histograms.
    pub const SERIES: &str = include_str!("../../shaders/series.wgsl");
    /// Screen-space overlays.
    pub const OVERLAY: &str = include_str!("../../shaders/overlay.wgsl");

    /// Every shader as compiled: (name, full source with `common.wgsl` and `segment.wgsl` prepended where used).
    pub fn modules() -> Vec<(&'static str, String)> {
        vec![
            ("candles.wgsl", format!("{COMMON}\n{CANDLES}")),
            ("series.wgsl", format!("{COMMON}\n{SEGMENT}\n{SERIES}")),
            ("overlay.wgsl", format!("{SEGMENT}\n{OVERLAY}")),
        ]
    }
}

/// The per-draw uniform (`Draw` in `common.wgsl`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct DrawUniform {
    /// Canvas size in pixels.
    pub canvas: [f32; 2],
    /// Plot area's top-left corner.
    pub rect_min: [f32; 2],
    /// Plot area's size.
    pub rect_size: [f32; 2],
    /// Fractional part of the left edge's bar position.
    pub x_frac: f32,
    /// Pixels per bar.
    pub px_per_bar: f32,
    /// Integer part of the left edge's bar position.
    pub x_origin: i32,
    /// Bars per bucket of the level drawn.
    pub bucket_bars: u32,
    /// Bars in the dataset.
    pub bar_count: u32,
    /// 1 for a log axis.
    pub log_scale: u32,
    /// Axis value at the bottom of the plot area.
    pub y_min: f32,
    /// Pixels per axis unit.
    pub px_per_y: f32,
    /// Line width in pixels.
    pub width_px: f32,
    /// Histogram baseline.
    pub base: f32,
    /// Up colour (and the colour of lines).
    pub color_up: [f32; 4],
    /// Down colour.
    pub color_down: [f32; 4],
    /// Body width as a fraction of the bucket width.
    pub body_fraction: f32,
    /// First bucket of the chunk bound (storage arrays are indexed from it); set per draw by [`FrameGpu`].
    pub chunk_first: u32,
    /// Padding to 16 bytes.
    pub pad: [f32; 2],
}

/// Uniform slots are this far apart (the largest `min_uniform_buffer_offset_alignment` wgpu allows).
const SLOT_BYTES: u64 = 256;

/// Pipelines and bind-group layouts, built once per device and target format.
pub struct ChartPipelines {
    candles: wgpu::RenderPipeline,
    volume: wgpu::RenderPipeline,
    line: wgpu::RenderPipeline,
    strip: wgpu::RenderPipeline,
    hist: wgpu::RenderPipeline,
    overlay: wgpu::RenderPipeline,
    draw_layout: wgpu::BindGroupLayout,
    bars_layout: wgpu::BindGroupLayout,
    series_layout: wgpu::BindGroupLayout,
    screen_layout: wgpu::BindGroupLayout,
    srgb_target: bool,
}

fn storage_entries(count: u32) -> Vec<wgpu::BindGroupLayoutEntry> {
    (0..count)
        .map(|binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::VERTEX,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only: true },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        })
        .collect()
}

fn uniform_layout(device: &wgpu::Device, label: &str, size: u64, dynamic: bool) -> wgpu::BindGroupLayout {
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries: &[wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: dynamic,
                min_binding_size: wgpu::BufferSize::new(size),
            },
            count: None,
        }],
    })
}

impl ChartPipelines {
    /// Compiles the shaders and builds the pipelines for render targets of `format` (single-sampled).
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat) -> Self {
        let draw_layout = uniform_layout(device, "aio chart draw", std::mem::size_of::<DrawUniform>() as u64, true);
        let screen_layout = uniform_layout(device, "aio chart screen", 16, false);
        let bars_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("aio chart bars"),
            entries: &storage_entries(5),
        });
        let series_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("aio chart series"),
            entries: &storage_entries(1),
        });
        let modules: Vec<wgpu::ShaderModule> = shaders::modules()
            .into_iter()
            .map(|(name, source)| {
                device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(name),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                })
            })
            .collect();
        let (candles_module, series_module, overlay_module) = (&modules[0], &modules[1], &modules[2]);
        let layout = |label: &str, groups: &[&wgpu::BindGroupLayout]| {
            let groups: Vec<Option<&wgpu::BindGroupLayout>> = groups.iter().map(|g| Some(*g)).collect();
            device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(label),
                bind_group_layouts: &groups,
                immediate_size: 0,
            })
        };
        let bars_pipeline_layout = layout("aio chart bars", &[&draw_layout, &bars_layout]);
        let series_pipeline_layout = layout("aio chart series", &[&draw_layout, &series_layout]);
        let overlay_pipeline_layout = layout("aio chart overlay", &[&screen_layout]);
        let target = [Some(wgpu::ColorTargetState {
            format,
            blend: Some(wgpu::BlendState::ALPHA_BLENDING),
            write_mask: wgpu::ColorWrites::ALL,
        })];
        let overlay_attributes = wgpu::vertex_attr_array![
            0 => Float32x2, 1 => Float32x2, 2 => Float32x4, 3 => Float32, 4 => Uint32
        ];
        let overlay_buffers = [Some(wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<OverlayInstance>() as u64,
            step_mode: wgpu::VertexStepMode::Instance,
            attributes: &overlay_attributes,
        })];
        let pipeline_with = |label: &str,
                             topology: wgpu::PrimitiveTopology,
                             layout: &wgpu::PipelineLayout,
                             module: &wgpu::ShaderModule,
                             vs: &str,
                             fs: &str,
                             buffers: &[Option<wgpu::VertexBufferLayout<'_>>]| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(label),
                layout: Some(layout),
                vertex: wgpu::VertexState {
                    module,
                    entry_point: Some(vs),
                    compilation_options: Default::default(),
                    buffers,
                },
                primitive: wgpu::PrimitiveState { topology, ..Default::default() },
                depth_stencil: None,
                multisample: wgpu::MultisampleState::default(),
                fragment: Some(wgpu::FragmentState {
                    module,
                    entry_point: Some(fs),
                    compilation_options: Default::default(),
                    targets: &target,
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        let pipeline = |label: &str,
                        layout: &wgpu::PipelineLayout,
                        module: &wgpu::ShaderModule,
                        vs: &str,
                        fs: &str,
                        buffers: &[Option<wgpu::VertexBufferLayout<'_>>]| {
            pipeline_with(label, wgpu::PrimitiveTopology::TriangleList, layout, module, vs, fs, buffers)
        };
        Self {
            strip: pipeline_with(
                "aio line strips",
                wgpu::PrimitiveTopology::LineStrip,
                &series_pipeline_layout,
                series_module,
                "vs_strip",
                "fs_flat",
                &[],
            ),
            candles: pipeline("aio candles", &bars_pipeline_layout, candles_module, "vs_candle", "fs_flat", &[]),
            volume: pipeline("aio volume", &bars_pipeline_layout, candles_module, "vs_volume", "fs_flat", &[]),
            line: pipeline("aio lines", &series_pipeline_layout, series_module, "vs_line", "fs_line", &[]),
            hist: pipeline("aio histogram", &series_pipeline_layout, series_module, "vs_hist", "fs_flat", &[]),
            overlay: pipeline(
                "aio overlay",
                &overlay_pipeline_layout,
                overlay_module,
                "vs_overlay",
                "fs_overlay",
                &overlay_buffers,
            ),
            draw_layout,
            bars_layout,
            series_layout,
            screen_layout,
            srgb_target: format.is_srgb(),
        }
    }
}

/// Buckets per uploaded chunk of a level; each chunk also holds the first bucket of the next, so a line segment
/// (or a strip's step) across the seam reads both ends from one buffer.
pub const CHUNK_BUCKETS: usize = 1 << 16;

/// One uploaded chunk of a level: the five bar columns and every indicator series sampled at that level.
struct Chunk {
    bars: wgpu::BindGroup,
    series: Vec<wgpu::BindGroup>,
}

/// A dataset on the GPU. Every level of detail is cut into chunks of [`CHUNK_BUCKETS`] buckets; a chunk is
/// uploaded the first time a frame draws from it and kept until the dataset changes. The first frame after
/// loading millions of bars therefore uploads the few chunks it shows (at most a few MB), not the whole pyramid,
/// and no frame uploads the same chunk twice.
pub struct GpuDataset {
    key: u64,
    /// `[level][chunk]`.
    chunks: Vec<Vec<Option<Chunk>>>,
    /// Bytes uploaded so far.
    pub bytes: u64,
}

fn storage_buffer(device: &wgpu::Device, label: &str, values: &[f32]) -> wgpu::Buffer {
    // Storage bindings must not be empty.
    let contents: &[f32] = if values.is_empty() { &[0.0] } else { values };
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::cast_slice(contents),
        usage: wgpu::BufferUsages::STORAGE,
    })
}

/// Splits the buckets `range` of a level at chunk boundaries: (chunk, buckets in it).
fn chunk_pieces(range: Range<u32>) -> impl Iterator<Item = (usize, Range<u32>)> {
    let size = CHUNK_BUCKETS as u32;
    let mut start = range.start;
    std::iter::from_fn(move || {
        if start >= range.end {
            return None;
        }
        let chunk = start / size;
        let end = range.end.min((chunk + 1) * size);
        let piece = (chunk as usize, start..end);
        start = end;
        Some(piece)
    })
}

impl GpuDataset {
    /// An empty GPU dataset for `data`: nothing is uploaded until a frame needs it.
    pub fn new(data: &ChartData) -> Self {
        let pyramid = &data.pyramid;
        let chunks = (0..pyramid.level_count())
            .map(|level| (0..pyramid.level_len(level).div_ceil(CHUNK_BUCKETS).max(1)).map(|_| None).collect())
            .collect();
        Self { key: data.key, chunks, bytes: 0 }
    }

    /// Chunks uploaded so far.
    pub fn chunks_uploaded(&self) -> usize {
        self.chunks.iter().flatten().filter(|c| c.is_some()).count()
    }

    /// Uploads chunk `chunk` of `level` unless it is on the GPU already.
    fn ensure(
        &mut self,
        device: &wgpu::Device,
        pipelines: &ChartPipelines,
        data: &ChartData,
        level: usize,
        chunk: usize,
    ) {
        let Some(slot) = self.chunks.get_mut(level).and_then(|c| c.get_mut(chunk)) else { return };
        if slot.is_some() {
            return;
        }
        let pyramid = &data.pyramid;
        let len = pyramid.level_len(level);
        let first = (chunk * CHUNK_BUCKETS).min(len);
        let end = (first + CHUNK_BUCKETS + 1).min(len);
        let mut bytes = 0u64;
        let mut upload = |label: &str, values: &[f32]| {
            bytes += 4 * values.len() as u64;
            storage_buffer(device, label, values)
        };
        let buffers: Vec<wgpu::Buffer> =
            pyramid.columns(level, first..end).iter().map(|c| upload("aio chart level", c)).collect();
        let entries: Vec<wgpu::BindGroupEntry<'_>> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
            .collect();
        let bars = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("aio chart level"),
            layout: &pipelines.bars_layout,
            entries: &entries,
        });
        let n = pyramid.bar_count();
        let bucket_bars = pyramid.bucket_bars(level);
        let series = data
            .series
            .iter()
            .map(|s| {
                // A bucket shows the value of its last bar (`sample_bar` in series.wgsl).
                let sampled: Vec<f32> = (first..end)
                    .map(|b| s.values.get(sample_bar(b, bucket_bars, n)).map_or(f32::NAN, |&v| v as f32))
                    .collect();
                let buffer = upload("aio chart series", &sampled);
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("aio chart series"),
                    layout: &pipelines.series_layout,
                    entries: &[wgpu::BindGroupEntry { binding: 0, resource: buffer.as_entire_binding() }],
                })
            })
            .collect();
        *slot = Some(Chunk { bars, series });
        self.bytes += bytes;
    }

    fn chunk(&self, level: usize, chunk: usize) -> Option<&Chunk> {
        self.chunks.get(level)?.get(chunk)?.as_ref()
    }
}

/// One prepared draw.
#[derive(Debug, Clone)]
enum PreparedDraw {
    Bars {
        volume: bool,
        slot: u32,
        level: usize,
        chunk: usize,
        buckets: Range<u32>,
        clip: [u32; 4],
    },
    Series {
        kind: SeriesDraw,
        slot: u32,
        level: usize,
        chunk: usize,
        series: usize,
        instances: Range<u32>,
        clip: [u32; 4],
    },
    Overlay {
        instances: Range<u32>,
        clip: [u32; 4],
    },
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeriesDraw {
    /// Anti-aliased quads, one per segment.
    Quads,
    /// A one-pixel line strip, one vertex per sample.
    Strip,
    /// Histogram bars.
    Histogram,
}

/// Per-frame GPU data: uniform slots and overlay instances, grown as needed and rewritten every frame.
pub struct FrameGpu {
    uniforms: wgpu::Buffer,
    uniform_slots: u64,
    draw_group: wgpu::BindGroup,
    screen: wgpu::Buffer,
    screen_group: wgpu::BindGroup,
    overlays: wgpu::Buffer,
    overlay_capacity: u64,
    draws: Vec<PreparedDraw>,
    canvas: [f32; 2],
}

fn linear_from_srgb(c: [f32; 4]) -> [f32; 4] {
    let f = |v: f32| if v <= 0.04045 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) };
    [f(c[0]), f(c[1]), f(c[2]), c[3]]
}

impl FrameGpu {
    /// Empty frame data on `device`.
    pub fn new(device: &wgpu::Device, pipelines: &ChartPipelines) -> Self {
        let (uniforms, draw_group) = Self::uniform_buffer(device, pipelines, 64);
        let screen = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("aio chart screen"),
            size: 16,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let screen_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("aio chart screen"),
            layout: &pipelines.screen_layout,
            entries: &[wgpu::BindGroupEntry { binding: 0, resource: screen.as_entire_binding() }],
        });
        let overlay_capacity = 1_024;
        Self {
            uniforms,
            uniform_slots: 64,
            draw_group,
            screen,
            screen_group,
            overlays: Self::overlay_buffer(device, overlay_capacity),
            overlay_capacity,
            draws: Vec::new(),
            canvas: [1.0, 1.0],
        }
    }

    fn uniform_buffer(
        device: &wgpu::Device,
        pipelines: &ChartPipelines,
        slots: u64,
    ) -> (wgpu::Buffer, wgpu::BindGroup) {
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("aio chart draws"),
            size: slots * SLOT_BYTES,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("aio chart draws"),
            layout: &pipelines.draw_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &buffer,
                    offset: 0,
                    size: wgpu::BufferSize::new(std::mem::size_of::<DrawUniform>() as u64),
                }),
            }],
        });
        (buffer, group)
    }

    fn overlay_buffer(device: &wgpu::Device, capacity: u64) -> wgpu::Buffer {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("aio chart overlays"),
            size: capacity * std::mem::size_of::<OverlayInstance>() as u64,
            usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Writes the uniforms and overlay instances of `plan` (the only per-frame upload besides chunks of
    /// `dataset` that `plan` draws from for the first time). `dataset` is started afresh when `data` is another
    /// dataset than it holds.
    pub fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        pipelines: &ChartPipelines,
        plan: &FramePlan,
        dataset: &mut GpuDataset,
        data: &ChartData,
    ) {
        if dataset.key != data.key {
            *dataset = GpuDataset::new(data);
        }
        // One draw (and uniform slot) per chunk a command's buckets touch: one or two in practice.
        struct Piece<'a> {
            command: &'a Command,
            level: usize,
            chunk: usize,
            range: Range<u32>,
        }
        let mut pieces = Vec::with_capacity(plan.commands.len() + 4);
        for command in &plan.commands {
            let range = match command {
                Command::Candles { buckets, .. } | Command::Volume { buckets, .. } => buckets.clone(),
                Command::Line { uniform, samples, .. } if uniform.bucket_bars > 1 => samples.clone(),
                // Quads: one per segment from sample s to s + 1.
                Command::Line { samples, .. } => samples.start..samples.end.saturating_sub(1).max(samples.start),
                Command::Histogram { samples, .. } => samples.clone(),
                Command::Overlay { .. } => {
                    pieces.push(Piece { command, level: 0, chunk: 0, range: 0..0 });
                    continue;
                }
            };
            let level = match command {
                Command::Candles { level, .. } | Command::Volume { level, .. } | Command::Line { level, .. } => *level,
                _ => plan.level,
            };
            for (chunk, range) in chunk_pieces(range) {
                dataset.ensure(device, pipelines, data, level, chunk);
                pieces.push(Piece { command, level, chunk, range });
            }
        }
        let slots_needed =
            pieces.iter().filter(|p| !matches!(p.command, Command::Overlay { .. })).count().max(1) as u64;
        if slots_needed > self.uniform_slots {
            let slots = slots_needed.next_power_of_two();
            (self.uniforms, self.draw_group) = Self::uniform_buffer(device, pipelines, slots);
            self.uniform_slots = slots;
        }
        let overlays_needed = plan.overlays.len().max(1) as u64;
        if overlays_needed > self.overlay_capacity {
            self.overlay_capacity = overlays_needed.next_power_of_two();
            self.overlays = Self::overlay_buffer(device, self.overlay_capacity);
        }
        let convert = |c: [f32; 4]| if pipelines.srgb_target { linear_from_srgb(c) } else { c };
        let mut bytes = vec![0u8; (slots_needed * SLOT_BYTES) as usize];
        self.draws.clear();
        let mut slot = 0u32;
        for Piece { command, level, chunk, range } in pieces {
            let clip = command.clip_px(plan.canvas);
            let chunk_first = (chunk * CHUNK_BUCKETS) as u32;
            let mut write = |u: &DrawUniform| {
                let mut u = *u;
                u.color_up = convert(u.color_up);
                u.color_down = convert(u.color_down);
                u.chunk_first = chunk_first;
                let at = slot as usize * SLOT_BYTES as usize;
                bytes[at..at + std::mem::size_of::<DrawUniform>()].copy_from_slice(bytemuck::bytes_of(&u));
                slot += 1;
                slot - 1
            };
            let series_draw = |kind, slot, series: &usize, instances| PreparedDraw::Series {
                kind,
                slot,
                level,
                chunk,
                series: *series,
                instances,
                clip,
            };
            let draw = match command {
                Command::Candles { uniform, .. } => {
                    PreparedDraw::Bars { volume: false, slot: write(uniform), level, chunk, buckets: range, clip }
                }
                Command::Volume { uniform, .. } => {
                    PreparedDraw::Bars { volume: true, slot: write(uniform), level, chunk, buckets: range, clip }
                }
                Command::Line { uniform, series, samples, .. } if uniform.bucket_bars > 1 => {
                    // A strip's piece reaches the first sample of the next piece, so the seam is drawn.
                    let end = (range.end + 1).min(samples.end);
                    series_draw(SeriesDraw::Strip, write(uniform), series, range.start..end)
                }
                Command::Line { uniform, series, .. } => series_draw(SeriesDraw::Quads, write(uniform), series, range),
                Command::Histogram { uniform, series, .. } => {
                    series_draw(SeriesDraw::Histogram, write(uniform), series, range)
                }
                Command::Overlay { instances, .. } => PreparedDraw::Overlay { instances: instances.clone(), clip },
            };
            self.draws.push(draw);
        }
        queue.write_buffer(&self.uniforms, 0, &bytes);
        let mut screen = [0f32; 4];
        screen[..2].copy_from_slice(&plan.canvas);
        queue.write_buffer(&self.screen, 0, bytemuck::cast_slice(&screen));
        if !plan.overlays.is_empty() {
            let converted: Vec<OverlayInstance> =
                plan.overlays.iter().map(|o| OverlayInstance { color: convert(o.color), ..*o }).collect();
            queue.write_buffer(&self.overlays, 0, bytemuck::cast_slice(&converted));
        }
        self.canvas = plan.canvas;
    }

    /// Records the prepared draws. `target_px` is the render target's size and `origin_px` where the canvas's
    /// top-left corner lies on it (non-zero inside an egui window), used for scissor rectangles.
    pub fn paint(
        &self,
        pass: &mut wgpu::RenderPass<'_>,
        pipelines: &ChartPipelines,
        dataset: &GpuDataset,
        origin_px: [u32; 2],
        target_px: [u32; 2],
    ) {
        let scissor = |pass: &mut wgpu::RenderPass<'_>, clip: &[u32; 4]| -> bool {
            let x0 = (origin_px[0] + clip[0]).min(target_px[0]);
            let y0 = (origin_px[1] + clip[1]).min(target_px[1]);
            let x1 = (origin_px[0] + clip[0] + clip[2]).min(target_px[0]);
            let y1 = (origin_px[1] + clip[1] + clip[3]).min(target_px[1]);
            if x1 <= x0 || y1 <= y0 {
                return false;
            }
            pass.set_scissor_rect(x0, y0, x1 - x0, y1 - y0);
            true
        };
        for draw in &self.draws {
            match draw {
                PreparedDraw::Bars { volume, slot, level, chunk, buckets, clip } => {
                    // Merged buckets draw only their full-width envelope (the body would lie inside it).
                    let vertices = if *volume || *level > 0 { 6 } else { 12 };
                    let Some(group) = dataset.chunk(*level, *chunk).map(|c| &c.bars) else { continue };
                    if buckets.is_empty() || !scissor(pass, clip) {
                        continue;
                    }
                    pass.set_pipeline(if *volume { &pipelines.volume } else { &pipelines.candles });
                    pass.set_bind_group(0, &self.draw_group, &[slot * SLOT_BYTES as u32]);
                    pass.set_bind_group(1, group, &[]);
                    pass.draw(0..vertices, buckets.clone());
                }
                PreparedDraw::Series { kind, slot, level, chunk, series, instances, clip } => {
                    let Some(group) = dataset.chunk(*level, *chunk).and_then(|c| c.series.get(*series)) else {
                        continue;
                    };
                    if instances.is_empty() || !scissor(pass, clip) {
                        continue;
                    }
                    pass.set_pipeline(match kind {
                        SeriesDraw::Quads => &pipelines.line,
                        SeriesDraw::Strip => &pipelines.strip,
                        SeriesDraw::Histogram => &pipelines.hist,
                    });
                    pass.set_bind_group(0, &self.draw_group, &[slot * SLOT_BYTES as u32]);
                    pass.set_bind_group(1, group, &[]);
                    if *kind == SeriesDraw::Strip {
                        pass.draw(instances.clone(), 0..1);
                    } else {
                        pass.draw(0..6, instances.clone());
                    }
                }
                PreparedDraw::Overlay { instances, clip } => {
                    if instances.is_empty() || !scissor(pass, clip) {
                        continue;
                    }
                    pass.set_pipeline(&pipelines.overlay);
                    pass.set_bind_group(0, &self.screen_group, &[]);
                    pass.set_vertex_buffer(0, self.overlays.slice(..));
                    pass.draw(0..6, instances.clone());
                }
            }
        }
    }

    /// The canvas size of the last prepared frame.
    pub fn canvas(&self) -> [f32; 2] {
        self.canvas
    }
}
